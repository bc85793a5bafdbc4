// A shared object that is not a punch plugin: it lacks punch_transport_plugin().
extern "C" __attribute__((visibility("default"))) int not_a_punch_transport_plugin() {
  return 42;
}
