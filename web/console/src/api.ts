// POSTs a typed operation to the server's /graphql, with the API key when one was entered.
import type { TypedDocumentString } from "./generated/graphql";

const KEY_STORAGE = "usagegraph.console.apiKey";
export const GRAPHQL_URL = new URL("../graphql", window.location.href).pathname;

export interface GraphQLError {
  message: string;
  path?: Array<string | number>;
  extensions?: { code?: string; source?: string; [key: string]: unknown };
}

export interface Answer<T> {
  data: T | null;
  errors: GraphQLError[];
}

/** The server refused the request for want of a (valid) key: the console asks for one. */
export class KeyRequired extends Error {}

export function storedKey(): string | null {
  return window.sessionStorage.getItem(KEY_STORAGE);
}

export function storeKey(key: string): void {
  // sessionStorage: the key lives as long as the tab, never on disk across sessions
  window.sessionStorage.setItem(KEY_STORAGE, key);
}

export async function run<T, V>(
  document: TypedDocumentString<T, V>,
  variables: V,
): Promise<Answer<T>> {
  const headers: Record<string, string> = {
    "content-type": "application/json",
    accept: "application/graphql-response+json, application/json",
  };
  const key = storedKey();
  if (key) headers.authorization = `Bearer ${key}`;
  const response = await fetch(GRAPHQL_URL, {
    method: "POST",
    headers,
    body: JSON.stringify({ query: document.toString(), variables }),
  });
  if (response.status === 401) throw new KeyRequired();
  const body = (await response.json()) as { data?: T | null; errors?: GraphQLError[] };
  if (!response.ok && !body.data) {
    const message = body.errors?.[0]?.message ?? `HTTP ${response.status}`;
    throw new Error(message);
  }
  return { data: body.data ?? null, errors: body.errors ?? [] };
}
