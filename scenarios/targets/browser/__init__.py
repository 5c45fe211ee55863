"""The browser target: a deployment's own web pages in Debian's Chromium, driven by Playwright."""
