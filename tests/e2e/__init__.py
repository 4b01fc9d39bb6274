"""Browser tests: the web UI in Debian's headless Chromium, driven by Playwright, against a live app."""
