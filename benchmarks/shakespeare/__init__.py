"""The character-level language-model task: Shakespeare's plays, a GPT."""
