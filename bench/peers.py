"""Peer gateways over the same sandbox endpoints: Hive Gateway (GraphQL Mesh) and Tailcall.

Both get one generated schema per sandbox: the vendors' REST endpoints as root fields, and each
entity's `usage` as a batched nested field, configured the way each gateway's documentation
recommends:

- Hive Gateway 2.15 serving a supergraph composed by `mesh-compose` from `@omnigraph/json-schema`
  subgraphs (one per vendor connection); nested usage through `@resolveTo(keysArg, keyField,
  valueKeyField)`, which batches keys into one call (without `valueKeyField` it matches results
  by position and silently answers with other organizations' rows); its response cache
  (`responseCaching`) on for the warm runs; with `dedupe=True`, its in-flight deduplication of
  identical incoming operations (`inboundInflightRequestDeduplication`, off by default).
- Tailcall 1.0.0 with `@http(batchKey)` batching (`@upstream(batch: {delay, maxSize})`) and
  `dedupe: true` on every `@http` (with every resolver deduplicated, its JIT executor also runs
  concurrent operations once; `dedupe=False` turns it off); `@cache` on every field for the
  warm runs. Finding: its batching groups concurrent requests' keys into one upstream call
  carrying the first request's other query parameters, so two dashboards of different date
  ranges in flight together both get the first range's numbers (one Telzino call with the
  first range's `start_date`/`end_date` for both), with `dedupe` on or off; one request at a
  time, every answer is right. The 16-client distinct-variables load checks every answer.

What neither can express, and how the harness works around it (stated in the report):
- OAuth client-credentials flows: the harness fetches Telzino's and each Talkdesk connection's
  token from the sandbox and configures them as static `Authorization` headers (Teli's API key is
  static anyway). Peers therefore make no token calls.
- Identity across vendors (the directory): peers expose each vendor's own entities; the client
  must merge organizations itself.
- Talkdesk: no OR-filter can be built from batched keys, so usage is one call per account and
  month (N+1); HAL `next` links are not followed (one page of 250 rows per account-month, enough
  here); amounts per currency are not summed (the client adds the rows).
- Teli user analytics need the organization's `unique_id`, which the user rows do not carry
  (they carry the org's UUID): the client passes it as an argument.
- Ranking and `first: N` of agents: the peers return the vendor's order (minutes, descending);
  the client slices.
- Tailcall 1.0.0 renders a query value that mixes text and a `{{...}}` expression as the text
  before the expression (`filter=account_id eq '`, a 400), so it cannot build Talkdesk's
  per-account filter at all: its dashboard leaves Talkdesk out and is compared on the rest.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench.answers import check_peer_dashboard
from bench.bounds import OrgIdentity, Plan, Range, dashboard_plan, drilldown_plan
from bench.procs import HOST, Process, Sandbox, free_port
from bench.scenarios import Request
from usagegraph.sandbox.dataset import Dataset, months_between

__all__ = ["PEER_DIR", "Peer", "PeerSetup", "check_peer_dashboard", "peers_installed"]

# checked where every answer is checked (bench/answers.py), kept importable from here

PEER_DIR = Path(__file__).resolve().parent / "peers"
NODE_BIN = PEER_DIR / "node_modules" / ".bin"
TAILCALL = PEER_DIR / "node_modules" / "@tailcallhq" / "core-linux-x64-gnu" / "bin" / "tailcall"
BATCH_MAX = 100  # Tailcall's batch size: a URL of 100 uuids stays far below server limits


def peers_installed() -> bool:
    return (
        (NODE_BIN / "hive-gateway").exists()
        and (NODE_BIN / "mesh-compose").exists()
        and (TAILCALL.exists())
    )


# -- tokens ---------------------------------------------------------------------------------------


def _token(source: Mapping[str, str]) -> str:
    if source["kind"] == "telzino":
        body = {
            "client_id": source["client_id"],
            "client_secret": source["client_secret"],
            "audience": "https://api.telzino.com/",
            "grant_type": "client_credentials",
        }
        response = httpx.post(source["token_url"], json=body, timeout=30)
    else:
        basic = base64.b64encode(f"{source['client_id']}:{source['client_secret']}".encode())
        response = httpx.post(
            source["token_url"],
            headers={"Authorization": f"Basic {basic.decode()}"},
            data={
                "grant_type": "client_credentials",
                "scope": "express-accounts-usage:read express-accounts:read",
            },
            timeout=30,
        )
    response.raise_for_status()
    return str(response.json()["access_token"])


@dataclass(frozen=True)
class Conn:
    """One vendor connection as the peers see it: a slug, base URL and auth header."""

    kind: str
    slug: str
    base: str
    header: tuple[str, str]


def _connections(sandbox: Sandbox) -> list[Conn]:
    out: list[Conn] = []
    for s in sandbox.sources:
        if s["kind"] == "telzino":
            out.append(
                Conn(
                    "telzino", "telzino", s["reports_url"], ("Authorization", f"Bearer {_token(s)}")
                )
            )
        elif s["kind"] == "teli":
            out.append(
                Conn(
                    "teli",
                    s["name"].removeprefix("teli-"),
                    s["base_url"],
                    ("X-API-Key", s["api_key"]),
                )
            )
        else:
            slug = s["name"].removeprefix("talkdesk-")
            out.append(
                Conn("talkdesk", slug, s["base_url"], ("Authorization", f"Bearer {_token(s)}"))
            )
    return out


# -- JSON schemas (titles name the GraphQL types, so the extensions can refer to them) ------------


def _obj(title: str, props: Mapping[str, Any]) -> dict[str, Any]:
    return {"type": "object", "title": title, "properties": dict(props)}


def _arr(items: Mapping[str, Any]) -> dict[str, Any]:
    return {"type": "array", "items": dict(items)}


S = {"type": "string"}
I = {"type": "integer"}  # noqa: E741
N = {"type": "number"}

TELZINO_ROW = _obj(
    "TelzinoRow",
    {
        "organization_id": S,
        "organization_name": S,
        "reseller_id": S,
        "reseller_name": S,
        "total_voice_minutes": N,
        "agent_count": I,
        "agents": _arr(_obj("TelzinoAgent", {"agent_id": S, "agent_name": S, "voice_minutes": N})),
    },
)


def _teli_schemas(x: str) -> dict[str, dict[str, Any]]:
    row = {"total_sms_sent": I, "total_voice_seconds": I, "total_cost": N}
    return {
        "orgs": _obj(
            f"TeliOrgs_{x}",
            {"organizations": _arr(_obj(f"TeliOrg_{x}", {"unique_id": S, "name": S}))},
        ),
        "analytics": _obj(
            f"TeliAnalytics_{x}",
            {
                "organizations": _arr(
                    _obj(f"TeliOrgRow_{x}", {"organization_id": S, "organization_name": S, **row})
                )
            },
        ),
        "users": _obj(
            f"TeliUsers_{x}", {"users": _arr(_obj(f"TeliUser_{x}", {"unique_id": S, "name": S}))}
        ),
        "user_analytics": _obj(
            f"TeliUserAnalytics_{x}",
            {"users": _arr(_obj(f"TeliUserRow_{x}", {"user_id": S, "user_name": S, **row}))},
        ),
    }


def _talkdesk_schemas(x: str) -> dict[str, dict[str, Any]]:
    row = _obj(
        f"TdRow_{x}",
        {
            "account_id": S,
            "month": S,
            "type": S,
            "unit": S,
            "direction": S,
            "currency": S,
            "number_of_units": N,
            "total_amount": N,
        },
    )
    return {
        "accounts": _obj(
            f"TdAccounts_{x}",
            {
                "_embedded": _obj(
                    f"TdAccountsEmb_{x}",
                    {
                        "accounts": _arr(
                            _obj(f"TdAccount_{x}", {"id": S, "name": S, "company_name": S})
                        )
                    },
                )
            },
        ),
        "usage": _obj(
            f"TdUsage_{x}", {"total": I, "_embedded": _obj(f"TdUsageEmb_{x}", {"usage": _arr(row)})}
        ),
    }


# -- Mesh -----------------------------------------------------------------------------------------


def _mesh_spec(conns: Sequence[Conn]) -> dict[str, Any]:
    subgraphs: list[dict[str, Any]] = []
    extensions: list[str] = []
    strings = {"start_date": S, "end_date": S}
    for c in conns:
        headers = {c.header[0]: c.header[1]}
        if c.kind == "telzino":
            report = _obj("TelzinoReport", {"data": _arr(TELZINO_ROW)})
            ops = [
                {
                    "type": "Query",
                    "field": "telzinoReport",
                    "path": "/v1/reports/minutes-by-organization",
                    "method": "GET",
                    "argTypeMap": {**strings, "organization_ids": _arr(S)},
                    "queryParamArgMap": {
                        k: k for k in ("start_date", "end_date", "organization_ids")
                    },
                    "responseSchema": report,
                },
                {
                    "type": "Query",
                    "field": "telzinoOrg",
                    "path": "/v1/reports/minutes-by-organization",
                    "method": "GET",
                    "argTypeMap": {**strings, "organization_ids": S},
                    "queryParamArgMap": {
                        k: k for k in ("start_date", "end_date", "organization_ids")
                    },
                    "responseSchema": {**report, "title": "TelzinoOrgReport"},
                },
            ]
            subgraphs.append(
                {
                    "name": "Telzino",
                    "options": {
                        "endpoint": c.base,
                        "operationHeaders": headers,
                        "queryStringOptions": {"arrayFormat": "comma"},
                        "operations": ops,
                    },
                }
            )
            extensions.append(
                "extend type TelzinoRow { usage(start: String!, end: String!): TelzinoRow "
                "@resolveTo("
                'sourceName: "Telzino", sourceTypeName: "Query", sourceFieldName: "telzinoReport", '
                'keyField: "organization_id", valueKeyField: "organization_id", keysArg: '
                '"organization_ids", '
                'additionalArgs: {start_date: "{args.start}", end_date: "{args.end}"}, result: '
                '"data") }'
            )
        elif c.kind == "teli":
            x = c.slug
            sch = _teli_schemas(x)
            ops = [
                {
                    "type": "Query",
                    "field": f"teli_{x}_organizations",
                    "path": "/v1/organizations",
                    "method": "GET",
                    "responseSchema": sch["orgs"],
                },
                {
                    "type": "Query",
                    "field": f"teli_{x}_orgAnalytics",
                    "path": "/v1/analytics/organizations",
                    "method": "GET",
                    # `ids` only exists so @resolveTo can batch; Teli ignores the parameter
                    "argTypeMap": {**strings, "ids": _arr(S)},
                    "queryParamArgMap": {k: k for k in ("start_date", "end_date", "ids")},
                    "responseSchema": sch["analytics"],
                },
                {
                    "type": "Query",
                    "field": f"teli_{x}_users",
                    "path": "/v1/organizations/{args.org_id}/users",
                    "method": "GET",
                    "argTypeMap": {"org_id": {"type": "string", "nullable": False}},
                    "responseSchema": sch["users"],
                },
                {
                    "type": "Query",
                    "field": f"teli_{x}_userAnalytics",
                    "path": "/v1/analytics/users",
                    "method": "GET",
                    "argTypeMap": {**strings, "organization_id": S, "ids": _arr(S)},
                    "queryParamArgMap": {
                        k: k for k in ("start_date", "end_date", "organization_id", "ids")
                    },
                    "responseSchema": sch["user_analytics"],
                },
            ]
            subgraphs.append(
                {
                    "name": f"Teli_{x}",
                    "options": {
                        "endpoint": c.base,
                        "operationHeaders": headers,
                        "queryStringOptions": {"arrayFormat": "comma"},
                        "operations": ops,
                    },
                }
            )
            extensions.append(
                f"extend type TeliOrg_{x} {{ usage(start: String!, end: String!): TeliOrgRow_{x} "
                "@resolveTo("
                f'sourceName: "Teli_{x}", sourceTypeName: "Query", sourceFieldName: '
                f'"teli_{x}_orgAnalytics", '
                'keyField: "unique_id", valueKeyField: "organization_id", keysArg: "ids", '
                'additionalArgs: {start_date: "{args.start}", end_date: "{args.end}"}, result: '
                '"organizations") }'
            )
            extensions.append(
                f"extend type TeliUser_{x} {{ usage(start: String!, end: String!, org: String!): "
                f"TeliUserRow_{x} @resolveTo("
                f'sourceName: "Teli_{x}", sourceTypeName: "Query", sourceFieldName: '
                f'"teli_{x}_userAnalytics", '
                'keyField: "unique_id", valueKeyField: "user_id", keysArg: "ids", '
                'additionalArgs: {organization_id: "{args.org}", start_date: "{args.start}", '
                'end_date: "{args.end}"}, '
                'result: "users") }'
            )
        else:
            x = c.slug
            sch = _talkdesk_schemas(x)
            ops = [
                {
                    "type": "Query",
                    "field": f"td_{x}_accounts",
                    "path": "/express/accounts",
                    "method": "GET",
                    "responseSchema": sch["accounts"],
                },
                {
                    "type": "Query",
                    "field": f"td_{x}_usage",
                    "path": "/express/usage/month",
                    "method": "GET",
                    "argTypeMap": {"filter": S},
                    "queryParamArgMap": {"filter": "filter"},
                    "responseSchema": sch["usage"],
                },
            ]
            subgraphs.append(
                {
                    "name": f"Talkdesk_{x}",
                    "options": {
                        "endpoint": c.base,
                        "operationHeaders": headers,
                        "queryParams": {"per_page": 250},
                        "operations": ops,
                    },
                }
            )
            extensions.append(
                f"extend type TdAccount_{x} {{ usage(month: String!): TdUsage_{x} @resolveTo("
                f'sourceName: "Talkdesk_{x}", sourceTypeName: "Query", sourceFieldName: '
                f'"td_{x}_usage", '
                'requiredSelectionSet: "{ id }", '
                "sourceArgs: {filter: \"account_id eq '{root.id}' and month eq '{args.month}'\"}) }"
            )
    return {"subgraphs": subgraphs, "additionalTypeDefs": "\n".join(extensions)}


_MESH_CONFIG = """import { defineConfig } from '@graphql-mesh/compose-cli'
import { loadJSONSchemaSubgraph } from '@omnigraph/json-schema'

const spec = %s

export const composeConfig = defineConfig({
  subgraphs: spec.subgraphs.map((s: any) => ({
    sourceHandler: loadJSONSchemaSubgraph(s.name, s.options),
  })),
  additionalTypeDefs: spec.additionalTypeDefs,
})
"""

_GATEWAY_CONFIG = """export const gatewayConfig = %s
"""


# -- Tailcall -------------------------------------------------------------------------------------


def _tc_headers(c: Conn) -> str:
    return f'headers: [{{key: "{c.header[0]}", value: "{c.header[1]}"}}]'


def _tc_query(pairs: Sequence[tuple[str, str]]) -> str:
    return "query: [" + ", ".join(f'{{key: "{k}", value: "{v}"}}' for k, v in pairs) + "]"


def _tailcall_sdl(conns: Sequence[Conn], port: int, *, cache: bool, dedupe: bool = True) -> str:
    cached = " @cache(maxAge: 600000)" if cache else ""
    dd = "true" if dedupe else "false"
    dates = [("start_date", "{{.args.start_date}}"), ("end_date", "{{.args.end_date}}")]
    nested = [("start_date", "{{.args.start}}"), ("end_date", "{{.args.end}}")]
    query: list[str] = []
    types: list[str] = []
    for c in conns:
        h = _tc_headers(c)
        if c.kind == "telzino":
            url = f"{c.base}/v1/reports/minutes-by-organization"
            query.append(
                "  telzinoReport(start_date: String!, end_date: String!): TelzinoReport "
                f'@http(url: "{url}", '
                f"{_tc_query(dates)}, {h}, dedupe: {dd}){cached}"
            )
            query.append(
                "  telzinoOrg(start_date: String!, end_date: String!, organization_ids: String!): "
                f'TelzinoReport @http(url: "{url}", '
                f"{_tc_query([*dates, ('organization_ids', '{{.args.organization_ids}}')])}, {h}, "
                f"dedupe: {dd}){cached}"
            )
            types.append("type TelzinoReport {\n  data: [TelzinoRow]\n}")
            types.append(
                "type TelzinoRow {\n  organization_id: String\n  organization_name: String\n  "
                "reseller_id: String\n"
                "  reseller_name: String\n  total_voice_minutes: Float\n  agent_count: Int\n  "
                "agents: [TelzinoAgent]\n"
                f'  usage(start: String!, end: String!): TelzinoRow @http(url: "{url}", '
                f"{_tc_query([('organization_ids', '{{.value.organization_id}}'), *nested])}, {h}, "
                f'batchKey: ["data", "organization_id"], dedupe: {dd}){cached}\n}}'
            )
            types.append(
                "type TelzinoAgent {\n  agent_id: String\n  agent_name: String\n  voice_minutes: "
                "Float\n}"
            )
        elif c.kind == "teli":
            x = c.slug
            row = "  total_sms_sent: Int\n  total_voice_seconds: Int\n  total_cost: Float\n"
            query.append(
                f'  teli_{x}_organizations: TeliOrgs_{x} @http(url: "{c.base}/v1/organizations", '
                f"{h}, dedupe: {dd}){cached}"
            )
            query.append(
                f"  teli_{x}_users(org_id: String!): TeliUsers_{x} @http(url: "
                f'"{c.base}/v1/organizations/{{{{.args.org_id}}}}/users", {h}, dedupe: '
                f"{dd}){cached}"
            )
            types.append(f"type TeliOrgs_{x} {{\n  organizations: [TeliOrg_{x}]\n}}")
            types.append(
                f"type TeliOrg_{x} {{\n  unique_id: String\n  name: String\n"
                f"  usage(start: String!, end: String!): TeliOrgRow_{x} @http(url: "
                f'"{c.base}/v1/analytics/organizations", '
                f"{_tc_query([('organization_id', '{{.value.unique_id}}'), *nested])}, {h}, "
                f'batchKey: ["organizations", "organization_id"], dedupe: {dd}){cached}\n}}'
            )
            types.append(
                f"type TeliOrgRow_{x} {{\n  organization_id: String\n  organization_name: "
                f"String\n{row}}}"
            )
            types.append(f"type TeliUsers_{x} {{\n  users: [TeliUser_{x}]\n}}")
            user_query = _tc_query(
                [("user_id", "{{.value.unique_id}}"), ("organization_id", "{{.args.org}}"), *nested]
            )
            types.append(
                f"type TeliUser_{x} {{\n  unique_id: String\n  name: String\n"
                f"  usage(start: String!, end: String!, org: String!): TeliUserRow_{x} @http(url: "
                f'"{c.base}/v1/analytics/users", {user_query}, {h}, '
                f'batchKey: ["users", "user_id"], dedupe: {dd}){cached}\n}}'
            )
            types.append(
                f"type TeliUserRow_{x} {{\n  user_id: String\n  user_name: String\n{row}}}"
            )
        else:
            x = c.slug
            query.append(
                f'  td_{x}_accounts: TdAccounts_{x} @http(url: "{c.base}/express/accounts", '
                f"{_tc_query([('per_page', '250')])}, {h}, dedupe: {dd}){cached}"
            )
            types.append(f"type TdAccounts_{x} {{\n  _embedded: TdAccountsEmb_{x}\n}}")
            types.append(f"type TdAccountsEmb_{x} {{\n  accounts: [TdAccount_{x}]\n}}")
            flt = "account_id eq '{{.value.id}}' and month eq '{{.args.month}}'"
            types.append(
                f"type TdAccount_{x} {{\n  id: String\n  name: String\n  company_name: String\n"
                f'  usage(month: String!): TdUsage_{x} @http(url: "{c.base}/express/usage/month", '
                f"{_tc_query([('filter', flt), ('per_page', '250')])}, {h}, dedupe: "
                f"{dd}){cached}\n}}"
            )
            types.append(f"type TdUsage_{x} {{\n  total: Int\n  _embedded: TdUsageEmb_{x}\n}}")
            types.append(f"type TdUsageEmb_{x} {{\n  usage: [TdRow_{x}]\n}}")
            types.append(
                f"type TdRow_{x} {{\n  account_id: String\n  month: String\n  type: String\n  "
                "unit: String\n"
                "  direction: String\n  currency: String\n  number_of_units: Float\n  "
                "total_amount: Float\n}"
            )
    head = (
        f'schema @server(port: {port}, hostname: "{HOST}") '
        f"@upstream(batch: {{delay: 1, maxSize: {BATCH_MAX}}}) {{\n  query: Query\n}}\n"
    )
    return head + "\ntype Query {\n" + "\n".join(query) + "\n}\n\n" + "\n\n".join(types) + "\n"


# -- the peers as processes -----------------------------------------------------------------------


@dataclass
class Peer:
    """One running peer gateway."""

    system: str  # "mesh" or "tailcall"
    cached: bool
    process: Process
    port: int

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}/graphql"

    def stop(self) -> None:
        self.process.stop()


class PeerSetup:
    """Configs for one sandbox; `start(system, cached)` runs a gateway over it."""

    def __init__(self, sandbox: Sandbox, ds: Dataset) -> None:
        self.sandbox = sandbox
        self.ds = ds
        self.workdir = sandbox.workdir / "peers"
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.conns = _connections(sandbox)
        self._composed = False

    def _compose(self) -> None:
        if self._composed:
            return
        link = self.workdir / "node_modules"
        if not link.exists():
            link.symlink_to(PEER_DIR / "node_modules")
        spec = _mesh_spec(self.conns)
        (self.workdir / "mesh.config.ts").write_text(
            _MESH_CONFIG % json.dumps(spec, indent=1), encoding="utf-8"
        )
        compose = Process(
            "mesh-compose",
            [str(NODE_BIN / "mesh-compose"), "-o", "supergraph.graphql"],
            self.workdir,
            cwd=self.workdir,
        )
        code = compose.popen.wait(timeout=300)
        compose.stop()
        if code != 0 or not (self.workdir / "supergraph.graphql").exists():
            raise RuntimeError("mesh-compose failed:\n" + compose.stderr_text()[-3000:])
        self._composed = True

    def start(self, system: str, *, cached: bool, dedupe: bool | None = None) -> Peer:
        """`dedupe`: deduplication of identical operations in flight (default: Hive Gateway
        without, its default; Tailcall with, as the runs before issue 15 measured it)."""
        dedupe = system == "tailcall" if dedupe is None else dedupe
        port = free_port()
        tag = f"{system}-{'warm' if cached else 'cold'}-{'dedupe' if dedupe else 'plain'}"
        env = {"NODE_ENV": "production", "NODE_OPTIONS": os.environ.get("NODE_OPTIONS", "")}
        if system == "mesh":
            self._compose()
            config: dict[str, Any] = {"logging": "error"}
            if cached:
                config["responseCaching"] = {"ttl": 600000}
            if dedupe:
                config["inboundInflightRequestDeduplication"] = True
            config_path = self.workdir / f"gateway-{tag}.config.mjs"
            text = _GATEWAY_CONFIG % json.dumps(config)
            if cached:  # one cache for every caller: the benchmark has no sessions
                text = text.replace('"ttl": 600000', '"ttl": 600000, "session": () => null')
            config_path.write_text(text, encoding="utf-8")
            argv = [
                str(NODE_BIN / "hive-gateway"),
                "supergraph",
                "supergraph.graphql",
                "--host",
                HOST,
                "--port",
                str(port),
                "--fork",
                "1",
                "-c",
                str(config_path),
            ]
            process = Process(tag, argv, self.workdir, env=env, cwd=self.workdir)
        else:
            sdl_path = self.workdir / f"{tag}.graphql"
            sdl = _tailcall_sdl(self.conns, port, cache=cached, dedupe=dedupe)
            sdl_path.write_text(sdl, encoding="utf-8")
            env["TC_LOG_LEVEL"] = "error"
            env["TC_TRACKER"] = "false"
            process = Process(
                tag,
                [str(TAILCALL), "start", str(sdl_path)],
                self.workdir,
                env=env,
                cwd=self.workdir,
            )
        peer = Peer(system, cached, process, port)
        try:
            _wait_graphql(peer)
        except RuntimeError:
            peer.stop()
            raise
        return peer

    # -- the peers' versions of scenarios 1 and 2 --------------------------------------------------

    def dashboard(self, rng: Range, system: str, *, talkdesk: bool | None = None) -> Request:
        """Tailcall renders a query value made of text and a `{{...}}` expression as the text
        before the expression only (`filter=account_id eq '`), so it cannot build Talkdesk's
        per-account filter: its dashboard leaves Talkdesk out and is compared on the rest.
        `talkdesk=False` leaves it out of Hive Gateway's too (comparisons of all three)."""
        today = self.ds.end
        from dataclasses import replace
        from datetime import timedelta

        from bench.bounds import identities, usage_plan

        with_talkdesk = system != "tailcall" and talkdesk is not False
        fields: list[str] = []
        for c in self.conns:
            if c.kind == "talkdesk" and not with_talkdesk:
                continue
            if c.kind == "telzino":
                fields.append(
                    "telzinoReport(start_date: $dstart, end_date: $dend) { data { organization_id "
                    "organization_name reseller_id reseller_name usage(start: $start, end: $end) "
                    "{ total_voice_minutes } } }"
                )
            elif c.kind == "teli":
                fields.append(
                    f"teli_{c.slug}_organizations {{ organizations {{ unique_id name "
                    "usage(start: $start, end: $end) { total_sms_sent total_voice_seconds "
                    "total_cost } } }"
                )
            else:
                fields.append(
                    f"td_{c.slug}_accounts {{ _embedded {{ accounts {{ id company_name "
                    "usage(month: $month) "
                    "{ total _embedded { usage { account_id currency total_amount type unit "
                    "number_of_units direction } } } } } }"
                )
        # $month only where Talkdesk reads it: a validating gateway refuses an unused variable
        month = ", $month: String!" if with_talkdesk else ""
        query = (
            f"query PeerDashboard($start: String!, $end: String!{month}, $dstart: String!, "
            "$dend: String!) { " + " ".join(fields) + " }"
        )
        variables = {
            "start": rng[0].isoformat(),
            "end": rng[1].isoformat(),
            "dstart": (today - timedelta(days=6)).isoformat(),
            "dend": today.isoformat(),
        }
        if with_talkdesk:
            variables["month"] = months_between(*rng)[0]
        if with_talkdesk:
            plan = dashboard_plan(self.ds, rng)
        else:
            orgs = [replace(o, talkdesk=None, talkdesk_source=None) for o in identities(self.ds)]
            plan = usage_plan(self.ds, orgs, [rng])
        return Request("dashboard", query, variables, plan)

    def drilldown(self, org: OrgIdentity, rng: Range) -> Request:
        fields: list[str] = []
        variables: dict[str, Any] = {"start": rng[0].isoformat(), "end": rng[1].isoformat()}
        params = ["$start: String!", "$end: String!"]
        if org.telzino:
            params.append("$telzinoOrg: String!")
            variables["telzinoOrg"] = org.telzino
            fields.append(
                "telzinoOrg(start_date: $start, end_date: $end, organization_ids: $telzinoOrg) "
                "{ data { organization_id organization_name agents { agent_id agent_name "
                "voice_minutes } } }"
            )
        if org.teli is not None and org.teli_source:
            x = org.teli_source.removeprefix("teli-")
            params.append("$teliOrg: String!")
            variables["teliOrg"] = org.teli.unique_id
            fields.append(
                f"teli_{x}_users(org_id: $teliOrg) {{ users {{ unique_id name "
                "usage(start: $start, end: $end, org: $teliOrg) { total_sms_sent "
                "total_voice_seconds total_cost } } }"
            )
        query = f"query PeerDrillDown({', '.join(params)}) {{ " + " ".join(fields) + " }"
        plan: Plan = drilldown_plan(org, rng)
        return Request("drilldown", query, variables, plan)


def _wait_graphql(peer: Peer, timeout: float = 90.0) -> None:
    """Gateways have no health route in common: wait until `{ __typename }` answers."""
    import time

    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=5) as client:
        while time.monotonic() < deadline:
            if not peer.process.alive():
                raise RuntimeError(
                    f"{peer.process.name} exited with {peer.process.popen.returncode}:\n"
                    + peer.process.stderr_text()[-3000:]
                    + peer.process.stdout_path.read_text(errors="replace")[-3000:]
                )
            try:
                r = client.post(peer.url, json={"query": "{ __typename }"})
                if r.status_code == 200 and "data" in r.json():
                    return
            except (httpx.HTTPError, ValueError):
                pass
            time.sleep(0.2)
    raise RuntimeError(f"{peer.process.name} did not serve GraphQL within {timeout:.0f} s")


# -- answers checked against the dataset ----------------------------------------------------------
