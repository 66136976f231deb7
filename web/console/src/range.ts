// The range picker's model: whole calendar months or any inclusive span of UTC days.
import type { PartialMonths } from "./generated/graphql";

export interface RangeChoice {
  firstDay: string;
  lastDay: string;
  partialMonths: PartialMonths;
}

const pad = (n: number): string => String(n).padStart(2, "0");

export function isoDay(date: Date): string {
  return `${date.getUTCFullYear()}-${pad(date.getUTCMonth() + 1)}-${pad(date.getUTCDate())}`;
}

/** "YYYY-MM" -> its first and last day. */
export function wholeMonth(month: string): { firstDay: string; lastDay: string } {
  const [year, mon] = month.split("-").map(Number) as [number, number];
  return {
    firstDay: isoDay(new Date(Date.UTC(year, mon - 1, 1))),
    lastDay: isoDay(new Date(Date.UTC(year, mon, 0))),
  };
}

/** The last whole calendar month before today (UTC): every source has reported it. */
export function lastWholeMonth(today: Date = new Date()): string {
  const previous = new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth() - 1, 1));
  return isoDay(previous).slice(0, 7);
}

/** True when the days are exactly one calendar month. */
export function monthOf(range: { firstDay: string; lastDay: string }): string | null {
  const month = range.firstDay.slice(0, 7);
  const whole = wholeMonth(month);
  return whole.firstDay === range.firstDay && whole.lastDay === range.lastDay ? month : null;
}

/** The months the monthly charts show: the six ending with the range's last month. */
export function chartMonths(lastDay: string, count = 6): { firstMonth: string; lastMonth: string } {
  const [year, mon] = lastDay.split("-").map(Number) as [number, number];
  const first = new Date(Date.UTC(year, mon - count, 1));
  return { firstMonth: isoDay(first).slice(0, 7), lastMonth: lastDay.slice(0, 7) };
}

const DAY = /^\d{4}-\d{2}-\d{2}$/;

/** The range in the URL's query, else the last whole month, partial months excluded. */
export function rangeFrom(params: URLSearchParams): RangeChoice {
  const firstDay = params.get("first") ?? "";
  const lastDay = params.get("last") ?? "";
  const partialMonths = params.get("partial") === "WHOLE_MONTHS" ? "WHOLE_MONTHS" : "EXCLUDE";
  if (DAY.test(firstDay) && DAY.test(lastDay) && firstDay <= lastDay) {
    return { firstDay, lastDay, partialMonths };
  }
  return { ...wholeMonth(lastWholeMonth()), partialMonths };
}

export function rangeParams(range: RangeChoice): URLSearchParams {
  return new URLSearchParams({
    first: range.firstDay,
    last: range.lastDay,
    partial: range.partialMonths,
  });
}
