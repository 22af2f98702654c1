"""The schema registry and the schema tools: client, catalog, check, compatibility, deploy, diff, history, levels."""
