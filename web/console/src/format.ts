// Figures as text: exact strings stay exact, and a missing figure reads "unknown", never 0.
export const UNKNOWN = "unknown";

type Segments = {
  inboundSegments: number | null;
  outboundSegments: number | null;
  otherDirectionSegments: number | null;
} | null;

export interface Money {
  amount: string;
  currency: string;
}

/** Group thousands of an exact decimal string without turning it into a float. */
export function decimal(value: string): string {
  const [whole = "", fraction] = value.split(".");
  const sign = whole.startsWith("-") ? "-" : "";
  const digits = whole.replace("-", "").replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  return fraction === undefined ? `${sign}${digits}` : `${sign}${digits}.${fraction}`;
}

/** Every direction's segments, or null when any direction is unknown (a sum would understate). */
export function smsSegments(sms: Segments): number | null {
  if (!sms) return null;
  const { inboundSegments, outboundSegments, otherDirectionSegments } = sms;
  if (inboundSegments === null || outboundSegments === null || otherDirectionSegments === null) {
    return null;
  }
  return inboundSegments + outboundSegments + otherDirectionSegments;
}

export function costs(money: Money[]): string {
  if (money.length === 0) return "no charges";
  return money
    .slice()
    .sort((a, b) => a.currency.localeCompare(b.currency))
    .map((m) => `${decimal(m.amount)} ${m.currency}`)
    .join(", ");
}

/** How long ago an ISO timestamp was, in words ("3 min", "2 h", "4 d"). */
export function age(asOf: string, now: number = Date.now()): string {
  const seconds = Math.max(0, Math.round((now - Date.parse(asOf)) / 1000));
  if (seconds < 120) return `${seconds} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  if (seconds < 172800) return `${Math.round(seconds / 3600)} h`;
  return `${Math.round(seconds / 86400)} d`;
}
