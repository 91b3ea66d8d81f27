"""One module per screen: inbox, task detail, field edit and review, run view, help, modals."""
