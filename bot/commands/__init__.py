"""Sub-commands of ``tlsbot``; see ``bot.cli``."""
