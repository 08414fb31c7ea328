"""借阅 borrowing. For now its approval kind only; applying from the pages comes with the borrowing workflow."""
