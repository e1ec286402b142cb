"""Early warning in GraphQL: the warnings listing, its two steps, and partner signals."""
