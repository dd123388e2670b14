"""The upgrade flow: the step table, the flow that drives every engine part, replay."""
