from rnncls.cli import run

run()
