"""The target seam: one Protocol, drivers `local` and `aws` (see DESIGN.md)."""
