"""Read side: read models built from events, and the GET-only query routes."""
