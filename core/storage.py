"""Static files storage for production: whitenoise's compressed, hashed files.

Vendored minified libraries (Chart.js, htmx) end with a ``sourceMappingURL`` comment naming a
.map file that is not shipped; Django's manifest storage would refuse to collect them. A source
map is a debugging aid the browser fetches only with its tools open, so those references are
left as they are instead of being rewritten to hashed names.
"""

from django.contrib.staticfiles.storage import ManifestStaticFilesStorage
from whitenoise.storage import CompressedManifestStaticFilesStorage


def _without_source_maps(patterns):
    kept = []
    for extension, rules in patterns:
        rules = tuple(
            rule
            for rule in rules
            if "sourceMappingURL" not in (rule if isinstance(rule, str) else rule[0])
        )
        if rules:
            kept.append((extension, rules))
    return tuple(kept)


class StaticFilesStorage(CompressedManifestStaticFilesStorage):
    patterns = _without_source_maps(ManifestStaticFilesStorage.patterns)
