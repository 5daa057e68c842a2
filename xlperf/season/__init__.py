"""One evaluation season in a workspace: roster, ledger, store, generate, mail, send, collect, status, remind."""
