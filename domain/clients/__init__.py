"""API clients of partner agencies: OAuth 2.0 client credentials acting as service accounts."""
