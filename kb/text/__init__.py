"""Text helpers every stage shares: Korean-aware tokens, the bilingual glossary and resource-name keys."""
