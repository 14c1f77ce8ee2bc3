"""Pure text-analysis pipeline: normalize → segment → regions → figures → classify → context → assemble.

It reads only its own rules (package data, optionally overlaid by a directory) and imports
nothing of the project outside this package: no settings, no Kafka, no wire models.
``Pipeline.analyze`` returns its own dataclasses (:mod:`streams.pipeline.types`); the stream
converts them to the ``schemas`` models at its edge.
"""
