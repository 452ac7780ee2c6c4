// incident-bot web view: the only script the Content-Security-Policy allows. Keeps an incident's status live
// (it may change from Slack or an alarm while the page is open) and stops double-submits of the buttons.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  for (const form of document.querySelectorAll("form[method=post]")) {
    form.addEventListener("submit", () => {
      for (const button of form.querySelectorAll("button")) button.disabled = true;
    });
  }
  const head = document.querySelector("[data-incident]");
  if (!head) return;
  const badge = head.querySelector("[data-status]");
  const id = head.dataset.incident;
  let shown = badge ? badge.textContent : "";
  const refresh = async () => {
    try {
      const answer = await fetch(`/api/incidents/${encodeURIComponent(id)}`, { credentials: "same-origin" });
      if (!answer.ok) return;
      const incident = await answer.json();
      if (badge && incident.status !== shown) {
        shown = incident.status;
        badge.textContent = shown;
        badge.className = `status status-${shown}`;
        head.classList.add("changed");
      }
    } catch (_) {
      // offline for a moment: try again at the next tick
    }
  };
  setInterval(refresh, 15000);
});
