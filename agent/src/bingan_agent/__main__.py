"""``python -m bingan_agent`` and the zipapp's entry."""
from bingan_agent.cli import main

main()
