"""Evidence packs: a case's record as a zip of canonical data files with a manifest of hashes."""
