"""The analyses, one subpackage per question: `query` modules read the evaluation table (or the
source) with Spark; `rules` and the other modules beside them are pure and hold the statistics
and the decisions. Question 1 decay, 2 arrival, 3 learning_curve, 4 window_comparison,
5 schedule; drift and the recommendation build on them."""
