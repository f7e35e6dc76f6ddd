from rnncls.cli import app

app(prog_name="rnncls")
