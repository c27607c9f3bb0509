// Keyboard shortcuts of the review views: m = match, n = not a match, u = unsure.
// Keys typed into a field (a note) are left alone.
"use strict";
document.addEventListener("keydown", function (event) {
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  var target = event.target;
  if (target && (target.tagName === "INPUT" || target.tagName === "TEXTAREA" || target.tagName === "SELECT")) return;
  var button = document.querySelector('form#decide button[data-key="' + event.key.toLowerCase() + '"]');
  if (!button || button.disabled) return;
  event.preventDefault();
  document.querySelectorAll("form#decide button").forEach(function (b) { b.disabled = true; });
  var form = button.form;
  var field = document.createElement("input");
  field.type = "hidden";
  field.name = "decision";
  field.value = button.value;
  form.appendChild(field);
  form.submit();
});
