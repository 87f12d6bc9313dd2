// A shared library that is not a Persisting plugin: it lacks the entry points.
extern "C" int not_a_plugin() { return 42; }
