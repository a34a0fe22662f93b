"""Charts and files: Vega-Lite specs for the UI and exports, PNG/PDF through vl-convert, CSV."""
