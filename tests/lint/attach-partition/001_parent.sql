-- UP
CREATE TABLE measurements (city_id bigint NOT NULL, logdate date NOT NULL, peak integer)
    PARTITION BY RANGE (logdate);
-- DOWN
DROP TABLE measurements;
