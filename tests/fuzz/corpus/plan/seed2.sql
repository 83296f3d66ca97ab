DROP INDEX t_a, t_b;
