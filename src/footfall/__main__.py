from footfall.cli import app

app()
