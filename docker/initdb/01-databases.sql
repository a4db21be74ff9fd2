-- One database per service.
CREATE DATABASE intake;
CREATE DATABASE routing;
CREATE DATABASE refund;
CREATE DATABASE training_scheduling;
CREATE DATABASE notifications;
