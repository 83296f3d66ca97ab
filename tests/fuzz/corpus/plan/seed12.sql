UPDATE t x SET n = 1 FROM k WHERE k.id = x.n;
