#ifndef FUNDQ_CRDKAFKA_SHIM_H
#define FUNDQ_CRDKAFKA_SHIM_H
#include <librdkafka/rdkafka.h>
#endif
