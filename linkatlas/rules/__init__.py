"""The domain rules every stage shares, each defined once: observation verdicts (`verdicts`) and
links, nofollow and "is this HTML" (`links`). Stages import them; nothing here imports a stage."""
