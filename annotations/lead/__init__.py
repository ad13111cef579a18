"""The project lead's workspace (issue 8): selections, bulk tasks, progress board and review."""
