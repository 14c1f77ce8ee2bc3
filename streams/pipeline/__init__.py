"""Pure text-analysis pipeline (normalize → segment → classify → extract); no I/O, no Kafka.

Used both by the Faust agents and by ``newsetl analyze``.
"""
