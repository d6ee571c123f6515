"""One page script per module: ``render(active)`` draws the page top to bottom; run by
``st.navigation`` as a script, each calls it with the dataset the sidebar chose."""
