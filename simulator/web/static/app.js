// Menus: each .menu-button shows or hides the list it controls (disclosure pattern).
"use strict";
(() => {
  const buttons = [...document.querySelectorAll(".menu-button")];
  const listOf = (button) => document.getElementById(button.getAttribute("aria-controls"));
  const closeAll = () => buttons.forEach((button) => {
    button.setAttribute("aria-expanded", "false");
    listOf(button).hidden = true;
  });
  buttons.forEach((button) => {
    button.disabled = false;  // usable once this script runs (the page ships it disabled)
    button.addEventListener("click", () => {
      const wasOpen = button.getAttribute("aria-expanded") === "true";
      closeAll();
      if (!wasOpen) {
        button.setAttribute("aria-expanded", "true");
        listOf(button).hidden = false;
      }
    });
  });
  document.addEventListener("click", (event) => {
    if (!event.target.closest(".menu")) closeAll();
  });
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape") closeAll();
  });
})();
