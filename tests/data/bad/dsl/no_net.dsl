node A
{
  TYPE = CPT;
};
