"""Pure analysis of run directories, statistics, certification and rendering."""
