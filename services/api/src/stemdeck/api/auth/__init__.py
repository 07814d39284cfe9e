"""Who is asking: sessions (the web app), API tokens (scripts), or the local admin."""
