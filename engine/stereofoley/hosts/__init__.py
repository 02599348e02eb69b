"""Host project writers (Ardour sessions): below commands, beside timeline; no transport imports."""
