"""Evidence packs: ``evidencePack`` and the download route of a generated pack."""
