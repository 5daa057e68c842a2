"""The form: its definition (templates/*.yaml → spec), value grammar, scoring rules, label vocabulary, layout and the locked-workbook writer."""
