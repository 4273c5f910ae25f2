"""Views of the web board, by concept: boards, cards, dashboard."""
