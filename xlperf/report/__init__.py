"""Written reports drafted from the returns: a unit's 自评报告 and the province's 汇总分析报告 (.docx)."""
