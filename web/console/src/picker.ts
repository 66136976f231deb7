// The range picker: a whole month, or any first and last day; and whether a monthly-only source
// (Talkdesk) counts its whole months when the days cut through them.
import { h } from "./dom";
import type { PartialMonths } from "./generated/graphql";
import { monthOf, type RangeChoice, wholeMonth } from "./range";

export function rangePicker(range: RangeChoice, apply: (range: RangeChoice) => void): HTMLElement {
  const month = monthOf(range);
  const monthInput = h("input", {
    type: "month",
    id: "range-month",
    value: month ?? range.firstDay.slice(0, 7),
  });
  const firstInput = h("input", { type: "date", id: "range-first", value: range.firstDay });
  const lastInput = h("input", { type: "date", id: "range-last", value: range.lastDay });
  const wholeMonths = h("input", { type: "checkbox", id: "range-whole-months" });
  wholeMonths.checked = range.partialMonths === "WHOLE_MONTHS";
  const partialMonths = (): PartialMonths => (wholeMonths.checked ? "WHOLE_MONTHS" : "EXCLUDE");

  const monthForm = h(
    "form",
    { class: "picker", "aria-label": "Whole month" },
    h("label", { for: "range-month" }, "Month"),
    monthInput,
    h("button", { type: "submit" }, "Show month"),
  );
  monthForm.addEventListener("submit", (event) => {
    event.preventDefault();
    if (monthInput.value)
      apply({ ...wholeMonth(monthInput.value), partialMonths: partialMonths() });
  });

  const daysForm = h(
    "form",
    { class: "picker", "aria-label": "Days" },
    h("label", { for: "range-first" }, "From"),
    firstInput,
    h("label", { for: "range-last" }, "to"),
    lastInput,
    h(
      "label",
      { for: "range-whole-months" },
      wholeMonths,
      " count whole months for monthly-only sources",
    ),
    h("button", { type: "submit" }, "Show days"),
  );
  daysForm.addEventListener("submit", (event) => {
    event.preventDefault();
    if (firstInput.value && lastInput.value && firstInput.value <= lastInput.value) {
      apply({
        firstDay: firstInput.value,
        lastDay: lastInput.value,
        partialMonths: partialMonths(),
      });
    }
  });
  return h(
    "div",
    { class: "pickers" },
    monthForm,
    daysForm,
    h("p", { class: "range", id: "range-shown" }, `${range.firstDay} to ${range.lastDay}`),
  );
}
