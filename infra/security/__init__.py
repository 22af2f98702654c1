"""Who may call the API: static API tokens and JWTs, the role each route needs."""
