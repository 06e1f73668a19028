"""MkDocs hook: the configuration reference is generated from config/schema.yaml at every build (mkdocs.yml)."""

from __future__ import annotations

from ml4hep.docs import CONFIG_MARKER, config_reference


def on_page_markdown(markdown: str, page, config, files) -> str:
    """Replace the marker line of ``configuration.md`` by the reference of every schema key."""
    if page.file.src_uri == "configuration.md":
        if CONFIG_MARKER not in markdown:
            raise ValueError(f"docs/configuration.md lost its marker {CONFIG_MARKER}")
        return markdown.replace(CONFIG_MARKER, config_reference())
    return markdown
