"""placeholder: filled in by the transform work of issue 6."""

__all__: list[str] = []
