"""The domain rules every stage shares, each defined once (verdicts of observations; more move
here as they get one home). Stages import them; nothing here imports a stage."""
