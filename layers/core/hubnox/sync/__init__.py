"""Pure sync logic over injected ports: matching, mapping, articles, documents, notes, jobs."""
